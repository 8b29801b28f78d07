from waiaas_daemon.serving.cli import main

main()
