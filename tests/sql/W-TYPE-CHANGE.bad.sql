-- ctx: tx=0
ALTER TABLE accounts ALTER COLUMN a TYPE text; -- expect
ALTER TABLE accounts ALTER COLUMN b TYPE varchar(200); -- expect
ALTER TABLE accounts ALTER COLUMN c TYPE numeric(20,2); -- expect
ALTER TABLE accounts ALTER COLUMN d TYPE character varying; -- expect
ALTER TABLE app.orders ALTER COLUMN e TYPE numeric; -- expect
