from collabctl.cli.app import main

main()
