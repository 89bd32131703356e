import ModelSmithCLI

ModelSmith.main()
