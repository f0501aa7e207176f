-- A day of writes on the demo's "remote" sales database, for `tablehaul demo --sync`: a few hundred rows
-- updated, inserted and deleted among ~377,000, as a nightly sync finds them.
UPDATE sales.customers SET email = 'new.address' || id || '@example.com' WHERE id % 500 = 0;

UPDATE sales.products SET price = price + 1 WHERE id % 100 = 0;

INSERT INTO sales.stores_sales (store_id, product_id, customer_id, channel, sold_at, quantity, amount)
SELECT 1 + g % 60, 1 + g % 2000, 1 + g % 25000, 'web', timestamptz '2025-12-01 00:00:00+00' + g * interval '1 minute',
       1 + g % 5, 10 + g
  FROM generate_series(1, 200) g;

UPDATE sales.stores_sales SET quantity = quantity + 1 WHERE id % 1000 = 0;

DELETE FROM sales."order notes" WHERE id % 800 = 0;
