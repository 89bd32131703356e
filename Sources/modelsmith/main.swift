import ModelSmithCLI

ModelSmith.mainEntry()
