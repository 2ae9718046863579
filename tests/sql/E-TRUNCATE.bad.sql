-- TRUNCATE of a table the running code uses, outside a contract.
TRUNCATE users; -- expect
TRUNCATE TABLE public.orders; -- expect
truncate "Accounts" restart identity; -- expect
TRUNCATE ONLY app.events CASCADE; -- expect
TRUNCATE carts; -- expect
BEGIN; TRUNCATE tokens; COMMIT; -- expect
