"""ServiceNow ITSM, SecOps and ITOM: three types over one client (`core`)."""
