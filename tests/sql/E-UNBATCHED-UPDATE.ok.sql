-- ctx: tx=0
UPDATE users SET full_name = name WHERE id BETWEEN 1 AND 1000;
UPDATE app.orders SET total = 0 WHERE id = 7;
UPDATE users u SET a = o.a FROM orders o WHERE o.user_id = u.id AND u.id < 100;
CREATE TABLE IF NOT EXISTS fresh (id bigint PRIMARY KEY, a int);
UPDATE fresh SET a = 1;
SELECT count(*) FROM users;
