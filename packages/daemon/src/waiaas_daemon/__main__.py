from waiaas_daemon.cli import main

main()
