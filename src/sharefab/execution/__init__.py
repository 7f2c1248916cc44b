"""Work orders, shop-floor events and replanning."""
