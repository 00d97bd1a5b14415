"""Where an index lives, behind one interface: `base.Store`, chosen by `factory.open_store`."""
