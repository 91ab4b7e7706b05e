// The evolution tests on the SQLite log, with SQLite view, checkpoint and dead-letter stores.
import { describeEvolution, describeRename } from './suite.js';
import { sqliteBackend } from './support.js';

describeEvolution(sqliteBackend);
describeRename(sqliteBackend);
