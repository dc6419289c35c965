"""What operators watch: health, metrics, sync status, and the status command."""
