/* Named precisions: quote amounts and prices carry 6 decimals, rates are in basis points. */
#pragma once

#define BPS_DENOMINATOR 10000ULL
#define QUOTE_PRECISION 1000000ULL
#define PRICE_PRECISION 1000000ULL
