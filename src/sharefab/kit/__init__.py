"""What every domain shares: settings, database, errors, pagination, money, time spans."""
