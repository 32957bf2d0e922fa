from prodfix.cli import main

main()
