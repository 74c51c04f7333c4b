-- Hand-written DuckDB SQL floor for `make bench`: load the same six CSVs and build the same
-- staging and mart tables as the duckbook pipeline, with no contracts, checks or reports.
-- {source} is replaced by the raw-data directory.
CREATE SCHEMA raw; CREATE SCHEMA staging; CREATE SCHEMA marts;

CREATE TABLE raw.raw_customers AS SELECT * FROM read_csv('{source}/raw_customers.csv', header = true);
CREATE TABLE raw.raw_orders    AS SELECT * FROM read_csv('{source}/raw_orders.csv', header = true);
CREATE TABLE raw.raw_items     AS SELECT * FROM read_csv('{source}/raw_items.csv', header = true);
CREATE TABLE raw.raw_products  AS SELECT * FROM read_csv('{source}/raw_products.csv', header = true);
CREATE TABLE raw.raw_stores    AS SELECT * FROM read_csv('{source}/raw_stores.csv', header = true);
CREATE TABLE raw.raw_supplies  AS SELECT * FROM read_csv('{source}/raw_supplies.csv', header = true);

CREATE TABLE staging.stg_customers AS SELECT id AS customer_id, name AS customer_name FROM raw.raw_customers;
CREATE TABLE staging.stg_orders AS
SELECT id AS order_id, store_id AS location_id, customer AS customer_id,
       subtotal AS subtotal_cents, tax_paid AS tax_paid_cents, order_total AS order_total_cents,
       round(subtotal / 100, 2)::decimal(16, 2) AS subtotal,
       round(tax_paid / 100, 2)::decimal(16, 2) AS tax_paid,
       round(order_total / 100, 2)::decimal(16, 2) AS order_total,
       date_trunc('day', ordered_at) AS ordered_at
FROM raw.raw_orders;
CREATE TABLE staging.stg_order_items AS SELECT id AS order_item_id, order_id, sku AS product_id FROM raw.raw_items;
CREATE TABLE staging.stg_products AS
SELECT sku AS product_id, name AS product_name, type AS product_type, description AS product_description,
       round(price / 100, 2)::decimal(16, 2) AS product_price,
       coalesce(type = 'jaffle', false) AS is_food_item,
       coalesce(type = 'beverage', false) AS is_drink_item
FROM raw.raw_products;
CREATE TABLE staging.stg_locations AS
SELECT id AS location_id, name AS location_name, tax_rate, date_trunc('day', opened_at) AS opened_date FROM raw.raw_stores;
CREATE TABLE staging.stg_supplies AS
SELECT md5(coalesce(cast(id AS varchar), '_dbt_utils_surrogate_key_null_') || '-' ||
           coalesce(cast(sku AS varchar), '_dbt_utils_surrogate_key_null_')) AS supply_uuid,
       id AS supply_id, sku AS product_id, name AS supply_name,
       round(cost / 100, 2)::decimal(16, 2) AS supply_cost, perishable AS is_perishable_supply
FROM raw.raw_supplies;

CREATE TABLE marts.order_items AS
WITH supply_cost AS (SELECT product_id, sum(supply_cost) AS supply_cost FROM staging.stg_supplies GROUP BY 1)
SELECT i.*, o.ordered_at, p.product_name, p.product_price, p.is_food_item, p.is_drink_item, s.supply_cost
FROM staging.stg_order_items i
LEFT JOIN staging.stg_orders o ON i.order_id = o.order_id
LEFT JOIN staging.stg_products p ON i.product_id = p.product_id
LEFT JOIN supply_cost s ON i.product_id = s.product_id;

CREATE TABLE marts.orders AS
WITH summary AS (
    SELECT order_id, sum(supply_cost) AS order_cost, sum(product_price) AS order_items_subtotal,
           count(order_item_id) AS count_order_items,
           sum(CASE WHEN is_food_item THEN 1 ELSE 0 END) AS count_food_items,
           sum(CASE WHEN is_drink_item THEN 1 ELSE 0 END) AS count_drink_items
    FROM marts.order_items GROUP BY 1
)
SELECT o.*, s.order_cost, s.order_items_subtotal, s.count_order_items, s.count_food_items, s.count_drink_items,
       s.count_food_items > 0 AS is_food_order, s.count_drink_items > 0 AS is_drink_order,
       row_number() OVER (PARTITION BY o.customer_id ORDER BY o.ordered_at, o.order_id) AS customer_order_number
FROM staging.stg_orders o LEFT JOIN summary s ON o.order_id = s.order_id;

CREATE TABLE marts.customers AS
WITH summary AS (
    SELECT customer_id, count(DISTINCT order_id) AS count_lifetime_orders,
           min(ordered_at) AS first_ordered_at, max(ordered_at) AS last_ordered_at,
           sum(subtotal) AS lifetime_spend_pretax, sum(tax_paid) AS lifetime_tax_paid, sum(order_total) AS lifetime_spend
    FROM marts.orders GROUP BY 1
)
SELECT c.*, s.count_lifetime_orders, s.first_ordered_at, s.last_ordered_at, s.lifetime_spend_pretax,
       s.lifetime_tax_paid, s.lifetime_spend,
       CASE WHEN s.count_lifetime_orders > 1 THEN 'returning' ELSE 'new' END AS customer_type
FROM staging.stg_customers c LEFT JOIN summary s ON c.customer_id = s.customer_id;

CREATE TABLE marts.products AS SELECT * FROM staging.stg_products;
CREATE TABLE marts.locations AS SELECT * FROM staging.stg_locations;
CREATE TABLE marts.supplies AS SELECT * FROM staging.stg_supplies;
