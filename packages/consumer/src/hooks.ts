import type { Envelope } from '@riverlog/core';
import type { ConsumerHooks, ErrorStage } from './types.js';

export interface Emitter<Event extends Envelope> {
  emit<K extends keyof ConsumerHooks<Event>>(name: K, ...args: Parameters<NonNullable<ConsumerHooks<Event>[K]>>): void;
  reportError(error: unknown, stage: ErrorStage, partition?: string): void;
}

/** Calls hooks safely: a hook that throws is reported to `onError`, never to the caller. */
export function hookEmitter<Event extends Envelope>(hooks: ConsumerHooks<Event> | undefined): Emitter<Event> {
  const emitter: Emitter<Event> = {
    emit(name, ...args) {
      const hook = hooks?.[name] as ((...hookArgs: unknown[]) => void) | undefined;
      if (!hook) return;
      try {
        hook.apply(hooks, args);
      } catch (error) {
        if (name !== 'onError') emitter.reportError(error, 'hook');
      }
    },
    reportError(error, stage, partition) {
      emitter.emit('onError', error, partition === undefined ? { stage } : { stage, partition });
    },
  };
  return emitter;
}
