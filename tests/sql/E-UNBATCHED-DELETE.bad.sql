-- ctx: tx=0
DELETE FROM users; -- expect
DELETE FROM app.orders; -- expect
delete from "Users"; -- expect
DELETE FROM users u USING orders o; -- expect
WITH x AS (SELECT 1) DELETE FROM logs; -- expect
