"""Running the desk: backups, copies between databases and the change feed.

May import the wings below loop; works on whole databases, not on tickets."""
