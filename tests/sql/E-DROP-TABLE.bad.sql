-- ctx: tx=0
DROP TABLE IF EXISTS users; -- expect
DROP TABLE IF EXISTS app.orders CASCADE; -- expect
drop table if exists "Users"; -- expect
DROP VIEW IF EXISTS people; -- expect
DROP MATERIALIZED VIEW IF EXISTS totals; -- expect
