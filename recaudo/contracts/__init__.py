"""The records recaudo reads and writes: their models, schemas, money, bank files and samples."""
