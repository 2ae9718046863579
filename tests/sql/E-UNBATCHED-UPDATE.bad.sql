-- ctx: tx=0
UPDATE users SET full_name = name; -- expect
UPDATE app.orders SET total = 0; -- expect
update "Users" set a = b; -- expect
UPDATE users u SET a = o.a FROM orders o; -- expect
WITH x AS (SELECT 1) UPDATE users SET a = 1; -- expect
