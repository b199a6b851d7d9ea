"""One module per messenger: its settings (as the environment names them) and the factory that
builds it, listed in ``bots.registry``. Apart from the messenger's own package, because
importing that package loads the messenger's library, which only a school using it pays for."""
