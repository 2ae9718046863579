-- ctx: tx=0
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);
DROP TABLE IF EXISTS app.orders_total;
REINDEX INDEX CONCURRENTLY users_email;
ALTER INDEX IF EXISTS users_email RENAME TO users_email2;
DROP SEQUENCE IF EXISTS a_idx;
