-- ctx: tx=0
ALTER TABLE accounts ALTER COLUMN a TYPE bigint; -- expect
ALTER TABLE accounts ALTER COLUMN b TYPE timestamptz; -- expect
ALTER TABLE accounts ALTER COLUMN c TYPE text USING c::text; -- expect
ALTER TABLE accounts ALTER COLUMN d SET DATA TYPE uuid USING d::uuid; -- expect
CREATE TABLE IF NOT EXISTS fresh (id bigint PRIMARY KEY, v varchar(50), n numeric(10,2));
ALTER TABLE orders ADD COLUMN IF NOT EXISTS w varchar(50);
ALTER TABLE orders ALTER COLUMN w TYPE varchar(20); -- expect
ALTER TABLE orders ADD COLUMN IF NOT EXISTS x numeric(10,2);
ALTER TABLE orders ALTER COLUMN x TYPE numeric(12,4); -- expect
ALTER TABLE orders ADD COLUMN IF NOT EXISTS y text;
ALTER TABLE orders ALTER COLUMN y TYPE varchar(10); -- expect
