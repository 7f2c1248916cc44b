"""The settlement ledger: double-entry accounts, transfers, escrow per order, platform fees."""
