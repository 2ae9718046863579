-- ctx: tx=0
ALTER TABLE users ALTER COLUMN name DROP NOT NULL; -- expect
ALTER TABLE app.orders ALTER COLUMN total DROP NOT NULL; -- expect
alter table "Users" alter column "Name" drop not null; -- expect
ALTER TABLE users ALTER name DROP NOT NULL; -- expect
ALTER TABLE users ALTER COLUMN a DROP NOT NULL, ALTER COLUMN a DROP DEFAULT; -- expect
