-- A perp market's id is any u64 (its address is ["perp", id]): beyond bigint from 2^63, as
-- 0005 did for prediction markets. It stays unique: the address is derived from it alone.
ALTER TABLE perp_markets ALTER COLUMN id TYPE numeric;
