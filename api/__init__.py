"""The public gateway: web chat today; SMS, payments and the console plug in as routers."""
