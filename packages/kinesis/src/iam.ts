// Least privilege: the IAM actions each role of @riverlog/kinesis calls, and a policy granting
// exactly those. test/kinesis/iam.test.ts records the calls the package makes in each role against
// the emulators and checks they are these, and that the README shows the same.

/**
 * What a process does with the stream: `producer` appends; `consumer` reads
 * by polling (consumers, views, `read`); `fanOutConsumer` reads through
 * enhanced fan-out (`fanOut` option).
 */
export type KinesisRole = 'producer' | 'consumer' | 'fanOutConsumer';

/**
 * The Kinesis API actions each role calls, and nothing more. Every role
 * calls `DescribeStreamSummary` once when it connects (the stream's ARN,
 * status and maximum record size); readers list shards for lineage.
 * Creating the stream (`createStream`) and `split`/`merge` are for
 * development and need `CreateStream`, `SplitShard`, `MergeShards` besides.
 */
export const KINESIS_ROLE_ACTIONS: Readonly<Record<KinesisRole, readonly string[]>> = {
  producer: ['kinesis:DescribeStreamSummary', 'kinesis:PutRecords'],
  consumer: ['kinesis:DescribeStreamSummary', 'kinesis:ListShards', 'kinesis:GetShardIterator', 'kinesis:GetRecords'],
  fanOutConsumer: [
    'kinesis:DescribeStreamSummary',
    'kinesis:ListShards',
    'kinesis:RegisterStreamConsumer',
    'kinesis:DescribeStreamConsumer',
    'kinesis:SubscribeToShard',
  ],
};

/** Actions on the stream consumer's ARN (`…:stream/<name>/consumer/<consumer>:<creation time>`), not the stream's. */
const CONSUMER_ACTIONS = new Set(['kinesis:DescribeStreamConsumer', 'kinesis:SubscribeToShard']);

/** What a role needs from the stream's KMS key when the stream is encrypted with one. */
const KMS_ACTIONS: Readonly<Record<KinesisRole, string>> = {
  producer: 'kms:GenerateDataKey',
  consumer: 'kms:Decrypt',
  fanOutConsumer: 'kms:Decrypt',
};

export interface KinesisPolicyOptions {
  /** The stream's ARN, e.g. `arn:aws:kinesis:eu-west-1:123456789012:stream/retail-stream`. */
  readonly streamArn: string;
  /** The roles the principal plays (several for a process that appends and reads). */
  readonly roles: readonly KinesisRole[];
  /** For `fanOutConsumer`: the stream consumer's name. Default `*` (any consumer of the stream). */
  readonly consumerName?: string;
  /** The customer-managed KMS key the stream is encrypted with, if any (not for the AWS-managed `alias/aws/kinesis`). */
  readonly kmsKeyArn?: string;
}

export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: string[];
  readonly Resource: string;
}

export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: PolicyStatement[];
}

/**
 * An IAM policy document granting the roles' actions (see
 * {@link KINESIS_ROLE_ACTIONS}) on this stream only: stream actions on the
 * stream's ARN, `DescribeStreamConsumer` and `SubscribeToShard` on its
 * consumer's ARN, and the KMS key's use when given.
 *
 * @example
 * const policy = kinesisPolicy({
 *   streamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/retail-stream',
 *   roles: ['fanOutConsumer'],
 *   consumerName: 'retail-emailer',
 * });
 * // { Version: '2012-10-17', Statement: [{ Sid: 'RiverlogKinesisStream', ... }, { Sid: 'RiverlogKinesisConsumer', ... }] }
 */
export function kinesisPolicy(options: KinesisPolicyOptions): PolicyDocument {
  const roles = [...new Set(options.roles)];
  const actions = [...new Set(roles.flatMap((role) => KINESIS_ROLE_ACTIONS[role]))];
  const statements: PolicyStatement[] = [
    {
      Sid: 'RiverlogKinesisStream',
      Effect: 'Allow',
      Action: actions.filter((action) => !CONSUMER_ACTIONS.has(action)),
      Resource: options.streamArn,
    },
  ];
  const onConsumer = actions.filter((action) => CONSUMER_ACTIONS.has(action));
  if (onConsumer.length > 0) {
    statements.push({
      Sid: 'RiverlogKinesisConsumer',
      Effect: 'Allow',
      Action: onConsumer,
      Resource: `${options.streamArn}/consumer/${options.consumerName ?? '*'}:*`,
    });
  }
  if (options.kmsKeyArn) {
    statements.push({
      Sid: 'RiverlogKinesisKms',
      Effect: 'Allow',
      Action: [...new Set(roles.map((role) => KMS_ACTIONS[role]))],
      Resource: options.kmsKeyArn,
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}
