-- The demo's "remote" sales database: a few hundred thousand rows in tables of several shapes, a foreign
-- key chain, sequences, and names that need quoting (mixed case, a space).
SELECT setseed(0.42);

CREATE SCHEMA sales;

CREATE TYPE sales.channel AS ENUM ('store', 'web', 'phone');

CREATE TABLE sales.stores (
  id        serial PRIMARY KEY,
  name      text NOT NULL,
  city      text NOT NULL,
  opened_on date NOT NULL
);

CREATE TABLE sales.products (
  id         serial PRIMARY KEY,
  sku        text NOT NULL UNIQUE,
  name       text NOT NULL,
  price      numeric(10, 2) NOT NULL CHECK (price >= 0),
  attributes jsonb
);

CREATE TABLE sales.customers (
  id        serial PRIMARY KEY,
  name      text NOT NULL,
  email     text,
  signed_up timestamptz NOT NULL
);

CREATE TABLE sales.stores_sales (
  id          bigserial PRIMARY KEY,
  store_id    int NOT NULL REFERENCES sales.stores (id),
  product_id  int NOT NULL REFERENCES sales.products (id),
  customer_id int REFERENCES sales.customers (id),
  channel     sales.channel NOT NULL,
  sold_at     timestamptz NOT NULL,
  quantity    int NOT NULL,
  amount      numeric(12, 2) NOT NULL
);
CREATE INDEX stores_sales_sold_at ON sales.stores_sales (sold_at);

CREATE TABLE sales."DailyTotals" (
  "storeId" int NOT NULL REFERENCES sales.stores (id),
  "Day"     date NOT NULL,
  "Total"   numeric(14, 2) NOT NULL,
  PRIMARY KEY ("storeId", "Day")
);

CREATE TABLE sales."order notes" (
  id      serial PRIMARY KEY,
  sale_id bigint NOT NULL REFERENCES sales.stores_sales (id),
  "note text" text NOT NULL
);

INSERT INTO sales.stores (name, city, opened_on)
SELECT 'Store ' || g, (ARRAY['São Paulo', 'Lisboa', 'Porto', 'Recife', 'Curitiba', 'Zürich'])[1 + g % 6],
       date '2015-01-01' + (g * 37) % 3000
  FROM generate_series(1, 60) g;

INSERT INTO sales.products (sku, name, price, attributes)
SELECT 'SKU-' || lpad(g::text, 6, '0'), 'Product ' || g, round((1 + random() * 500)::numeric, 2),
       jsonb_build_object('color', (ARRAY['red', 'green', 'blue', 'black'])[1 + g % 4], 'weight_g', g % 900 + 10)
  FROM generate_series(1, 2000) g;

INSERT INTO sales.customers (name, email, signed_up)
SELECT 'Customer ' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'customer' || g || '@example.com' END,
       timestamptz '2020-01-01 00:00:00+00' + g * interval '37 minutes'
  FROM generate_series(1, 25000) g;

INSERT INTO sales.stores_sales (store_id, product_id, customer_id, channel, sold_at, quantity, amount)
SELECT 1 + (random() * 59)::int, 1 + (random() * 1999)::int,
       CASE WHEN random() < 0.2 THEN NULL ELSE 1 + (random() * 24999)::int END,
       (ARRAY['store', 'web', 'phone'])[1 + (random() * 2)::int]::sales.channel,
       timestamptz '2024-01-01 00:00:00+00' + random() * interval '700 days',
       1 + (random() * 9)::int, round((random() * 1000)::numeric, 2)
  FROM generate_series(1, 300000) g;

INSERT INTO sales."DailyTotals" ("storeId", "Day", "Total")
SELECT store_id, sold_at::date, sum(amount) FROM sales.stores_sales GROUP BY 1, 2;

INSERT INTO sales."order notes" (sale_id, "note text")
SELECT g * 37, E'Customer asked for "gift wrap";\tline two\nwith a tab and a backslash \\ too'
  FROM generate_series(1, 8000) g;

ANALYZE;
