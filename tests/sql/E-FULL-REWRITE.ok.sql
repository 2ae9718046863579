-- ctx: tx=0
VACUUM users;
VACUUM (ANALYZE) app.orders;
VACUUM (FULL false) users;
ANALYZE users;
ALTER TABLE users SET (fillfactor = 90);
CREATE TABLE IF NOT EXISTS fresh (id bigint PRIMARY KEY);
ALTER TABLE fresh SET UNLOGGED;
