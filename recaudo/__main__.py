from recaudo.cli.main import main

main()
