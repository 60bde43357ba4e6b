"""One file per revision; a change to ``lesync.state.schema`` needs a new one here."""
