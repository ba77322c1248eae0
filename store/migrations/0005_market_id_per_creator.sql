-- Protocol v2: a market's address is ["market", creator, id], so an id is unique per creator
-- only (two creators may both use id 1), and an id is any u64 (beyond bigint from 2^63).
ALTER TABLE markets DROP CONSTRAINT markets_id_key;
ALTER TABLE markets ALTER COLUMN id TYPE numeric;
ALTER TABLE markets ADD CONSTRAINT markets_creator_id_key UNIQUE (creator, id);
