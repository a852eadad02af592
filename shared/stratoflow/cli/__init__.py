"""The `strato` command line."""
