-- Protocol v2: a vote's weight is the quote it locks. Votes indexed before v2 carried no
-- stake and keep NULL.
ALTER TABLE votes ADD COLUMN stake bigint;
