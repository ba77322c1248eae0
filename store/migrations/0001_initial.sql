-- Keepernet's initial schema. Amounts that are u64 on chain and can exceed bigint are numeric.
-- Rows written from events are keyed by (signature, event_index), so replaying is a no-op.

-- Every event the program emitted, decoded, exactly once.
CREATE TABLE events (
    signature   text        NOT NULL,
    event_index int         NOT NULL,
    slot        bigint      NOT NULL,
    block_time  timestamptz,
    name        text        NOT NULL,
    data        jsonb       NOT NULL,
    PRIMARY KEY (signature, event_index)
);
CREATE INDEX events_name_slot ON events (name, slot);

-- Where each reader (the indexer's backfill, say) has got to.
CREATE TABLE cursors (
    name       text        PRIMARY KEY,
    signature  text        NOT NULL,
    slot       bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Projections of on-chain accounts, as of updated_slot.
CREATE TABLE markets (
    address          text     PRIMARY KEY,
    id               bigint   UNIQUE,
    creator          text,
    state            smallint,
    question         text,
    likes            bigint,
    dislikes         bigint,
    yes_reserve      bigint,
    no_reserve       bigint,
    collateral       numeric,
    proposed_outcome smallint,
    final_outcome    smallint,
    trading_ends_at  timestamptz,
    proposal_ends_at timestamptz,
    dispute_ends_at  timestamptz,
    updated_slot     bigint   NOT NULL
);
CREATE INDEX markets_state ON markets (state);

CREATE TABLE perp_markets (
    address            text    PRIMARY KEY,
    id                 bigint  UNIQUE,
    oracle             text,
    long_oi            numeric,
    short_oi           numeric,
    cumulative_funding numeric,
    last_funding_ts    timestamptz,
    updated_slot       bigint  NOT NULL
);

CREATE TABLE positions (
    address      text     PRIMARY KEY,
    perp_market  text,
    owner        text,
    side         smallint,
    size         numeric,
    entry_price  numeric,
    collateral   numeric,
    updated_slot bigint   NOT NULL
);
CREATE INDEX positions_perp_market ON positions (perp_market);

-- Projections of events.
CREATE TABLE trades (
    signature   text,
    event_index int,
    market      text,
    trader      text,
    outcome     smallint,
    is_buy      bool,
    amount      numeric,
    shares      numeric,
    fee         numeric,
    slot        bigint,
    PRIMARY KEY (signature, event_index)
);
CREATE INDEX trades_market_slot ON trades (market, slot);

CREATE TABLE votes (
    signature   text,
    event_index int,
    market      text,
    voter       text,
    kind        smallint,
    choice      bool,
    slot        bigint,
    PRIMARY KEY (signature, event_index)
);
CREATE INDEX votes_market ON votes (market);

CREATE TABLE funding_updates (
    signature          text,
    event_index        int,
    perp_market        text,
    rate_bps           bigint,
    intervals          bigint,
    price              numeric,
    cumulative_funding numeric,
    slot               bigint,
    PRIMARY KEY (signature, event_index)
);

CREATE TABLE liquidations (
    signature   text,
    event_index int,
    position    text,
    owner       text,
    perp_market text,
    liquidator  text,
    price       numeric,
    equity      numeric,
    reward      numeric,
    bad_debt    numeric,
    slot        bigint,
    PRIMARY KEY (signature, event_index)
);

-- One row per try of a job, written by the workers.
CREATE TABLE job_runs (
    job_id      text,
    try         int,
    role        text,
    job         text,
    outcome     text,
    started_at  timestamptz,
    finished_at timestamptz,
    detail      jsonb,
    PRIMARY KEY (job_id, try)
);
CREATE INDEX job_runs_job_finished ON job_runs (job, finished_at);
