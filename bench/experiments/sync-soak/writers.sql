\set r random(1, 110000)
\set s random(1, 110000)
\set t random(1, 4)
BEGIN;
UPDATE events SET v = md5(random()::text), updated_at = clock_timestamp() WHERE id = :r;
INSERT INTO events (id, k, v) VALUES (nextval('events_seq'), :s % 100, 'new');
DELETE FROM events WHERE id = :s;
SAVEPOINT a;
UPDATE events SET k = k + 1, updated_at = clock_timestamp() WHERE id = :s + 1;
ROLLBACK TO SAVEPOINT a;
UPDATE events SET tags = tags || :t, updated_at = clock_timestamp() WHERE id = :s + 2;
SAVEPOINT b;
UPDATE events SET doc = doc || jsonb_build_object('x', :t) WHERE id = :r + 3;
RELEASE SAVEPOINT b;
UPDATE events SET id = -id WHERE id = :r + 5 AND id > 0;
COMMIT;
