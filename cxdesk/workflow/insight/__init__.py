"""What the feedback says: metrics, metric alerts, reports and the dashboard's figures.

May import reads, loop and the wings below them."""
