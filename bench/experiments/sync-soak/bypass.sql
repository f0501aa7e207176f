\set r random(1, 100000)
UPDATE events SET v = 'bypass' WHERE id = :r;
