from gridgov.cli.main import main

main()
