-- ctx: tx=0
CREATE INDEX IF NOT EXISTS i1 ON accounts (email); -- expect
CREATE UNIQUE INDEX IF NOT EXISTS i2 ON accounts (lower(email)); -- expect
CREATE INDEX IF NOT EXISTS i3 ON app.orders USING gin (tags); -- expect
CREATE INDEX IF NOT EXISTS i4 ON orders (created_at) WHERE deleted_at IS NULL; -- expect
create index if not exists i5 on "Orders" (id); -- expect
CREATE INDEX -- expect
  IF NOT EXISTS i6 ON t (a); -- no marker: the finding is on the first line
