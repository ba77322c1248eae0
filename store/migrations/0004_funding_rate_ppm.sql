-- Protocol v2 keeps funding rates in parts per million (FundingUpdated.rate_ppm): a small
-- imbalance still pays, where whole basis points rounded it to nothing. Rows indexed before
-- v2 hold basis points: one is 100 ppm.
ALTER TABLE funding_updates RENAME COLUMN rate_bps TO rate_ppm;
UPDATE funding_updates SET rate_ppm = rate_ppm * 100;
