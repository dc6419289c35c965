"""Badge printing on the appliance: the durable print queue and what feeds it."""
