-- Protocol v2 keeps funding rates in parts per million (FundingUpdated.rate_ppm): a small
-- imbalance still pays, where whole basis points rounded it to nothing.
ALTER TABLE funding_updates RENAME COLUMN rate_bps TO rate_ppm;
