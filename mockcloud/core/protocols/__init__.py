"""Wire-protocol families shared by several services (AWS JSON, REST-JSON, ...)."""
