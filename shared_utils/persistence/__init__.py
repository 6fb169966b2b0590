"""Single-table persistence: key formats (``keys``), the table definition (``table_schema``),
item (de)serialisation (``items``) and one repository per aggregate (``repositories``)."""
