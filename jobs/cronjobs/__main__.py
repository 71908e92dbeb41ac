from cronjobs.entry import main

main()
