from prodfix.launch import main

main()
