-- Tables another session locks ACCESS EXCLUSIVE, or waits to (ALTER TABLE, TRUNCATE, DROP, VACUUM FULL, LOCK
-- TABLE, REINDEX of one of its indexes). Such a lock conflicts with the ACCESS SHARE lock that pg_get_expr,
-- pg_get_indexdef, pg_get_constraintdef (CHECK), pg_get_ruledef, pg_get_statisticsobjdef, pg_get_partkeydef
-- and pg_table_size take on the table, and a waiting request queues every later one behind it: the catalog
-- queries skip those functions for these tables ($1 of the other list_*.sql), so that one locked table
-- fails alone instead of the whole catalog read timing out.
SELECT coalesce(i.indrelid, l.relation)::int8            AS table_oid,
       l.pid                                             AS pid,
       l.granted                                         AS granted
  FROM pg_catalog.pg_locks l
  LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = l.relation
 WHERE l.locktype = 'relation'
   AND l.mode = 'AccessExclusiveLock'
   AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
   AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid()
 ORDER BY l.granted DESC, l.pid;
