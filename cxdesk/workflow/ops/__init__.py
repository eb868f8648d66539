"""Running the desk: backups, copies between databases, the change feed, and delivering the
webhook outbox (`webhooks`, `webhook_http`).

May import the wings below loop; works on whole databases, not on tickets."""
